//! Integration tests: the order service with its real partners (product and payment services,
//! each on its own fresh PostgreSQL database) and a real RabbitMQ virtual host per test.

mod events;
mod helpers;
mod hostile;
mod migrations;
mod openapi;
mod orders;
mod saga;
