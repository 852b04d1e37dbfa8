//! The user service over real HTTP against real PostgreSQL, a fresh database per test. One test
//! binary, so one PostgreSQL container for all of them.

mod accounts;
mod helpers;
mod hostile;
mod keys;
mod migrations;
mod openapi;
mod register;
mod tokens;
