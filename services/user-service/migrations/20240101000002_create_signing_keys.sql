-- RSA keys that sign access tokens, generated at first start when JWT_PRIVATE_KEY is not set,
-- so restarts keep issued tokens valid and no key is baked into an image. The newest signs;
-- all are published in the JWKS.
CREATE TABLE signing_keys (
    kid         text PRIMARY KEY,
    private_pem text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
