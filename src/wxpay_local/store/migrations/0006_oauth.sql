-- OAuth2 codes and tokens and Mini Program login codes (domain/oauth_grants.py): one row each,
-- locked while used. kind is code, access, refresh or jscode; pair links an access_token and
-- its refresh_token. Times are epoch milliseconds on the platform clock.
CREATE TABLE oauth_grants (
    token TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    appid TEXT NOT NULL,
    payer_id BIGINT NOT NULL REFERENCES payers (id),
    openid TEXT NOT NULL,
    scope TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    pair TEXT NOT NULL
);
CREATE INDEX app_bindings_appid ON app_bindings (appid);
