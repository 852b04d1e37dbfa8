//! Integration tests: the real service over real HTTP, consuming from a real RabbitMQ (a fresh
//! virtual host per test) into a fresh PostgreSQL database per test.

mod helpers;
mod consuming;
mod http;
mod openapi;
mod retries;
mod startup;
