//! The user service over real HTTP against real PostgreSQL and RabbitMQ, a fresh database and
//! vhost per test. One test binary, so one container of each for all of them.

mod accounts;
mod events;
mod helpers;
mod hostile;
mod keys;
mod migrations;
mod openapi;
mod register;
mod tokens;
