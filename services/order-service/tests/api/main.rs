//! Integration tests: the order service with its real partners (product and payment services,
//! each on its own fresh PostgreSQL database) and a real RabbitMQ virtual host per test.

mod helpers;
mod events;
mod openapi;
mod orders;
mod saga;
