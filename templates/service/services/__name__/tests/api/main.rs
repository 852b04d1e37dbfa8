//! Integration tests: the real service over real HTTP{% if db %}, on a fresh PostgreSQL database
//! per test{% endif %}{% if amqp %} and a fresh RabbitMQ virtual host{% endif %}.

{% if consumes %}
mod consuming;
{% endif %}
mod helpers;
mod hostile;
{% if db %}
mod items;
{% else %}
mod about;
{% endif %}
mod openapi;
{% if db %}
mod provider_states;
{% endif %}
{% if publishes %}
mod publishing;
{% endif %}
mod startup;
