-- clerk-sync schema v1 (MySQL 8 / MariaDB 10.6+). Identical to docs/schema.md; every statement
-- is IF NOT EXISTS so a database created by clerk-sync-seaorm migrates cleanly too.
-- Indexes are declared inside CREATE TABLE because MySQL has no CREATE INDEX IF NOT EXISTS.
-- DATETIME(6) holds UTC (the store converts before binding), independent of time_zone.
--
-- Collations: every table is utf8mb4_bin, so emails and names compare byte for byte. The ids
-- (clerk_id, svix_id) must also not ignore trailing spaces, which utf8mb4_bin does (PAD SPACE:
-- 'user_a ' = 'user_a'), so they take the NO PAD binary collation, named differently by the
-- two servers: MySQL 8 runs the /*!80000 ... */ comment and MariaDB ignores it (MariaDB skips
-- MySQL version comments from 5.7 to 9.x); MariaDB runs the /*M!100202 ... */ comment, which
-- MySQL ignores.

CREATE TABLE IF NOT EXISTS clerk_users (
    id                BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    clerk_id          VARCHAR(255) CHARACTER SET utf8mb4 /*!80000 COLLATE utf8mb4_0900_bin */ /*M!100202 COLLATE utf8mb4_nopad_bin */ NULL,
    email             VARCHAR(320) NULL,
    first_name        TEXT NULL,
    last_name         TEXT NULL,
    username          TEXT NULL,
    image_url         TEXT NULL,
    external_id       TEXT NULL,
    public_metadata   JSON NULL,
    raw_json          JSON NULL,
    clerk_updated_at  BIGINT NULL,
    deleted_at        DATETIME(6) NULL,
    sync_status       VARCHAR(16) NOT NULL DEFAULT 'synced',
    last_sync_attempt DATETIME(6) NULL,
    sync_error        TEXT NULL,
    created_at        DATETIME(6) NOT NULL,
    updated_at        DATETIME(6) NOT NULL,
    CONSTRAINT uq_clerk_users_clerk_id UNIQUE (clerk_id),
    CONSTRAINT ck_clerk_users_sync_status CHECK (sync_status IN ('synced', 'pending', 'failed')),
    -- Not unique: reordered deliveries can briefly hold two rows with one address (invariant 6).
    INDEX idx_clerk_users_email (email),
    INDEX idx_clerk_users_status (sync_status, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE IF NOT EXISTS clerk_webhook_events (
    svix_id      VARCHAR(255) CHARACTER SET utf8mb4 /*!80000 COLLATE utf8mb4_0900_bin */ /*M!100202 COLLATE utf8mb4_nopad_bin */ NOT NULL PRIMARY KEY,
    event_type   VARCHAR(255) NOT NULL,
    object_id    VARCHAR(255) NULL,
    received_at  DATETIME(6) NOT NULL,
    processed_at DATETIME(6) NULL,
    outcome      VARCHAR(16) NULL,
    error        TEXT NULL,
    -- Only user.* bodies are kept (replay); every other event's is NULL.
    payload      LONGTEXT NULL,
    -- Prune by received_at; list newest first by (received_at, svix_id).
    INDEX idx_clerk_webhook_events_received (received_at, svix_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE IF NOT EXISTS clerk_sync_outbox (
    id              BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id         BIGINT NOT NULL,
    operation       VARCHAR(16) NOT NULL,
    payload         JSON NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at DATETIME(6) NOT NULL,
    claimed_by      VARCHAR(255) NULL,
    claimed_until   DATETIME(6) NULL,
    claim_token     VARCHAR(64) NULL,
    last_error      TEXT NULL,
    dead_at         DATETIME(6) NULL,
    created_at      DATETIME(6) NOT NULL,
    -- Claims look for live entries (dead_at IS NULL) that are due; dead-letter listings for
    -- dead_at IS NOT NULL. One index serves both.
    INDEX idx_clerk_sync_outbox_due (dead_at, next_attempt_at),
    -- One user's entries, in order: outbox_for_user, and the "no older live entry" check.
    INDEX idx_clerk_sync_outbox_user (user_id, id),
    CONSTRAINT fk_clerk_sync_outbox_user FOREIGN KEY (user_id) REFERENCES clerk_users (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE IF NOT EXISTS clerk_sync_leases (
    name       VARCHAR(255) NOT NULL PRIMARY KEY,
    holder     VARCHAR(255) NOT NULL,
    expires_at DATETIME(6) NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE IF NOT EXISTS clerk_sync_runs (
    id            BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    kind          VARCHAR(32) NOT NULL,
    triggered_by  VARCHAR(255) NOT NULL,
    started_at    DATETIME(6) NOT NULL,
    -- NULL while the run is going, or when its process died.
    finished_at   DATETIME(6) NULL,
    dry_run       BOOLEAN NOT NULL,
    force_rewrite BOOLEAN NOT NULL,
    -- The last Clerk user id the run fully applied, as of its last checkpoint. CURSOR is a
    -- reserved word in MySQL, hence the quotes (here and in the store's statements).
    `cursor`      VARCHAR(255) NULL,
    report        JSON NOT NULL,
    INDEX idx_clerk_sync_runs_started (started_at),
    -- The latest run of a kind (a backfill resuming from its cursor).
    INDEX idx_clerk_sync_runs_kind (kind, started_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
