-- clerk-sync schema v1 (SQLite). Identical to docs/schema.md; every statement is
-- IF NOT EXISTS so a database created by clerk-sync-seaorm migrates cleanly too.
-- Times are TEXT in RFC 3339 UTC with exactly six fractional digits
-- (2026-11-22T05:44:37.123456Z): fixed width, so comparing the text compares the instants.
-- JSON is TEXT.

CREATE TABLE IF NOT EXISTS clerk_users (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    clerk_id          VARCHAR(255) NULL,
    email             VARCHAR(320) NULL,
    first_name        TEXT NULL,
    last_name         TEXT NULL,
    username          TEXT NULL,
    image_url         TEXT NULL,
    external_id       TEXT NULL,
    public_metadata   TEXT NULL,
    raw_json          TEXT NULL,
    clerk_updated_at  BIGINT NULL,
    deleted_at        TEXT NULL,
    sync_status       VARCHAR(16) NOT NULL DEFAULT 'synced',
    last_sync_attempt TEXT NULL,
    sync_error        TEXT NULL,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    CONSTRAINT uq_clerk_users_clerk_id UNIQUE (clerk_id),
    CONSTRAINT ck_clerk_users_sync_status CHECK (sync_status IN ('synced', 'pending', 'failed'))
);
CREATE INDEX IF NOT EXISTS idx_clerk_users_email ON clerk_users (email);
CREATE INDEX IF NOT EXISTS idx_clerk_users_status ON clerk_users (sync_status, id);

CREATE TABLE IF NOT EXISTS clerk_webhook_events (
    svix_id      VARCHAR(255) PRIMARY KEY,
    event_type   VARCHAR(255) NOT NULL,
    object_id    VARCHAR(255) NULL,
    received_at  TEXT NOT NULL,
    processed_at TEXT NULL,
    outcome      VARCHAR(16) NULL,
    error        TEXT NULL,
    payload      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_clerk_webhook_events_received ON clerk_webhook_events (received_at);

CREATE TABLE IF NOT EXISTS clerk_sync_outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id         BIGINT NOT NULL REFERENCES clerk_users (id) ON DELETE CASCADE,
    operation       VARCHAR(16) NOT NULL,
    payload         TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    claimed_by      VARCHAR(255) NULL,
    claimed_until   TEXT NULL,
    last_error      TEXT NULL,
    created_at      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_clerk_sync_outbox_due ON clerk_sync_outbox (next_attempt_at);
CREATE INDEX IF NOT EXISTS idx_clerk_sync_outbox_user ON clerk_sync_outbox (user_id, id);

CREATE TABLE IF NOT EXISTS clerk_sync_leases (
    name       VARCHAR(255) PRIMARY KEY,
    holder     VARCHAR(255) NOT NULL,
    expires_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS clerk_sync_runs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    kind          VARCHAR(32) NOT NULL,
    triggered_by  VARCHAR(255) NOT NULL,
    started_at    TEXT NOT NULL,
    finished_at   TEXT NOT NULL,
    dry_run       BOOLEAN NOT NULL,
    force_rewrite BOOLEAN NOT NULL,
    report        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_clerk_sync_runs_started ON clerk_sync_runs (started_at);
