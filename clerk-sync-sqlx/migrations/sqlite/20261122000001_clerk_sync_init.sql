-- clerk-sync schema v1 (SQLite). Identical to docs/schema.md; every statement is
-- IF NOT EXISTS so a database created by clerk-sync-seaorm migrates cleanly too.
-- Times are TEXT in RFC 3339 UTC with exactly six fractional digits
-- (2026-11-22T05:44:37.123456Z): fixed width, so comparing the text compares the instants.
-- JSON is TEXT. Text compares with SQLite's default BINARY collation: byte order, as the
-- other databases do for ids.

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
-- Not unique: reordered deliveries can briefly hold two rows with one address (invariant 6).
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
    -- Only user.* bodies are kept (replay); every other event's is NULL.
    payload      TEXT NULL
);
-- Prune by received_at; list newest first by (received_at, svix_id).
CREATE INDEX IF NOT EXISTS idx_clerk_webhook_events_received ON clerk_webhook_events (received_at, svix_id);

CREATE TABLE IF NOT EXISTS clerk_sync_outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id         BIGINT NOT NULL REFERENCES clerk_users (id) ON DELETE CASCADE,
    operation       VARCHAR(16) NOT NULL,
    payload         TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    claimed_by      VARCHAR(255) NULL,
    claimed_until   TEXT NULL,
    claim_token     VARCHAR(64) NULL,
    last_error      TEXT NULL,
    dead_at         TEXT NULL,
    created_at      TEXT NOT NULL
);
-- Claims look for live entries (dead_at IS NULL) that are due; dead-letter listings for
-- dead_at IS NOT NULL. One index serves both.
CREATE INDEX IF NOT EXISTS idx_clerk_sync_outbox_due ON clerk_sync_outbox (dead_at, next_attempt_at);
-- One user's entries, in order: outbox_for_user, and the "no older live entry" check of claims.
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
    -- NULL while the run is going, or when its process died.
    finished_at   TEXT NULL,
    dry_run       BOOLEAN NOT NULL,
    force_rewrite BOOLEAN NOT NULL,
    -- The last Clerk user id the run fully applied, as of its last checkpoint.
    cursor        VARCHAR(255) NULL,
    report        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_clerk_sync_runs_started ON clerk_sync_runs (started_at);
-- The latest run of a kind (a backfill resuming from its cursor).
CREATE INDEX IF NOT EXISTS idx_clerk_sync_runs_kind ON clerk_sync_runs (kind, started_at);
