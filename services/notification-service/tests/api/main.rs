//! Integration tests: the real service over real HTTP, consuming from a real RabbitMQ (a fresh
//! virtual host per test) into a fresh PostgreSQL database per test.

mod consuming;
mod helpers;
mod hostile;
mod http;
mod openapi;
mod retries;
mod startup;
