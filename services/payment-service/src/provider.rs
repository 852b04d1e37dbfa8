//! The simulated card provider. `tok_visa` succeeds, `tok_declined` is declined
//! (`card_declined`), `tok_slow` succeeds after `SLOW_TOKEN_DELAY_MS`. Chaos: every charge waits
//! `PAYMENT_LATENCY_MS` and fails transiently with probability `PAYMENT_FAILURE_RATE`.

use std::str::FromStr;
use std::time::Duration;

pub const TOKENS: [&str; 3] = ["tok_visa", "tok_declined", "tok_slow"];

/// A probability from 0.0 to 1.0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate(pub f64);

impl FromStr for Rate {
    type Err = String;
    fn from_str(s: &str) -> Result<Rate, String> {
        match s.trim().parse::<f64>() {
            Ok(r) if (0.0..=1.0).contains(&r) => Ok(Rate(r)),
            _ => Err("expected a number from 0.0 to 1.0".into()),
        }
    }
}

/// A test card token the provider knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token {
    Visa,
    Declined,
    Slow,
}

impl FromStr for Token {
    type Err = ();
    fn from_str(s: &str) -> Result<Token, ()> {
        match s {
            "tok_visa" => Ok(Token::Visa),
            "tok_declined" => Ok(Token::Declined),
            "tok_slow" => Ok(Token::Slow),
            _ => Err(()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Charge {
    Succeeded,
    Declined(&'static str),
}

#[derive(Debug, thiserror::Error)]
#[error("the payment provider is temporarily unavailable")]
pub struct Unavailable;

#[derive(Debug, Clone)]
pub struct Provider {
    pub slow_token_delay: Duration,
    pub failure_rate: f64,
    pub latency: Duration,
}

impl Default for Provider {
    fn default() -> Provider {
        Provider {
            slow_token_delay: Duration::from_millis(3000),
            failure_rate: 0.0,
            latency: Duration::ZERO,
        }
    }
}

impl Provider {
    pub async fn charge(&self, token: Token) -> Result<Charge, Unavailable> {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        if self.failure_rate > 0.0 && rand::random::<f64>() < self.failure_rate {
            return Err(Unavailable);
        }
        Ok(match token {
            Token::Visa => Charge::Succeeded,
            Token::Declined => Charge::Declined("card_declined"),
            Token::Slow => {
                tokio::time::sleep(self.slow_token_delay).await;
                Charge::Succeeded
            }
        })
    }
}
