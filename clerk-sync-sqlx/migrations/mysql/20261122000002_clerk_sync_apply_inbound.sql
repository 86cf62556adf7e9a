-- clerk-sync (MySQL / MariaDB): apply one verified inbound event in one round trip.
--
-- The store's apply_inbound is ledger dedupe + conditional write + mark processed in one
-- transaction. As separate statements that is five round trips, which on a busy server costs
-- more CPU than the writes themselves; as one CALL it is one, with every value a bound
-- parameter of the CALL. The rules are those of the store traits (see src/mysql.rs):
-- * a processed svix id is a duplicate and nothing is written;
-- * p_kind 1 (upsert): first a plain UPDATE by clerk_id under the version guard (most events
--   update a user that exists, and InnoDB does that far more cheaply than an insert attempt
--   that collides with the unique key); when it changes nothing, link the oldest live row with
--   p_link_email and no clerk id unless a row has p_clerk_id (the unique constraint decides),
--   else a plain INSERT of the new user; when that INSERT hits the unique key (another
--   transaction inserted the user meanwhile), the guarded ON DUPLICATE KEY upsert settles the
--   race, its version column assigned last because MySQL assigns left to right. Deciding
--   "stale" from a plain read instead would be wrong under READ COMMITTED: the UPDATE skips a
--   row another transaction has inserted and not committed, and a read after that commit would
--   call the newer event stale;
-- * p_kind 2 (tombstone): insert-or-update setting deleted_at only where it is null;
-- * p_kind 3: ledger only;
-- * the ledger row is written processed with the outcome (p_payload NULL when the event's
--   body is not kept), completing an earlier unprocessed one.
-- The result is one row: `outcome` in duplicate, inserted, updated, linked, stale, deleted,
-- tombstoned, already_deleted, ledger_only.
--
-- The id parameters take the id columns' NO PAD collation (see migration 1), so comparing
-- them with the columns mixes no collations.

DROP PROCEDURE IF EXISTS clerk_sync_apply_inbound;

CREATE PROCEDURE clerk_sync_apply_inbound(
    IN p_kind TINYINT,
    IN p_svix_id VARCHAR(255) CHARACTER SET utf8mb4 /*!80000 COLLATE utf8mb4_0900_bin */ /*M!100202 COLLATE utf8mb4_nopad_bin */,
    IN p_event_type VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin,
    IN p_object_id VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin,
    IN p_received_at DATETIME(6),
    IN p_payload LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin,
    IN p_now DATETIME(6),
    IN p_clerk_id VARCHAR(255) CHARACTER SET utf8mb4 /*!80000 COLLATE utf8mb4_0900_bin */ /*M!100202 COLLATE utf8mb4_nopad_bin */,
    IN p_email VARCHAR(320) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin,
    IN p_first_name TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin,
    IN p_last_name TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin,
    IN p_username TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin,
    IN p_image_url TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin,
    IN p_external_id TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin,
    IN p_public_metadata LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin,
    IN p_raw_json LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin,
    IN p_version BIGINT,
    IN p_link_email VARCHAR(320) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin,
    IN p_deleted_at DATETIME(6)
)
MODIFIES SQL DATA
BEGIN
    DECLARE v_processed INT DEFAULT NULL;
    -- 1: the link hit the unique key; 2: the plain insert did.
    DECLARE v_taken INT DEFAULT 0;
    DECLARE v_rows INT DEFAULT 0;
    DECLARE v_deleted INT DEFAULT NULL;
    DECLARE v_outcome VARCHAR(16) DEFAULT 'stale';

    DECLARE EXIT HANDLER FOR SQLEXCEPTION
    BEGIN
        ROLLBACK;
        RESIGNAL;
    END;

    -- Guarded writes need no gap locks; REPEATABLE READ's would only add deadlocks.
    SET TRANSACTION ISOLATION LEVEL READ COMMITTED;
    START TRANSACTION;
    SELECT processed_at IS NOT NULL INTO v_processed
        FROM clerk_webhook_events WHERE svix_id = p_svix_id;

    IF v_processed = 1 THEN
        COMMIT;
        SELECT 'duplicate' AS outcome;
    ELSE
        IF p_kind = 1 THEN
            UPDATE clerk_users SET email = p_email, first_name = p_first_name,
                last_name = p_last_name, username = p_username, image_url = p_image_url,
                external_id = p_external_id, public_metadata = p_public_metadata,
                raw_json = p_raw_json, clerk_updated_at = p_version,
                sync_error = IF(sync_status = 'pending', sync_error, NULL),
                sync_status = IF(sync_status = 'pending', 'pending', 'synced'),
                updated_at = p_now
            WHERE clerk_id = p_clerk_id AND deleted_at IS NULL
                AND (clerk_updated_at IS NULL OR clerk_updated_at < p_version);
            IF ROW_COUNT() > 0 THEN
                SET v_outcome = 'updated';
            ELSE
                IF p_link_email IS NOT NULL THEN
                    BEGIN
                        -- A row already has this clerk id: linking does not apply.
                        DECLARE CONTINUE HANDLER FOR 1062 SET v_taken = 1;
                        UPDATE clerk_users SET clerk_id = p_clerk_id, email = p_email,
                            first_name = p_first_name, last_name = p_last_name,
                            username = p_username, image_url = p_image_url,
                            external_id = p_external_id, public_metadata = p_public_metadata,
                            raw_json = p_raw_json, clerk_updated_at = p_version,
                            sync_error = IF(sync_status = 'pending', sync_error, NULL),
                            sync_status = IF(sync_status = 'pending', 'pending', 'synced'),
                            updated_at = p_now
                        WHERE email = p_link_email AND clerk_id IS NULL AND deleted_at IS NULL
                        ORDER BY id LIMIT 1;
                        IF v_taken = 0 AND ROW_COUNT() = 1 THEN
                            SET v_outcome = 'linked';
                        END IF;
                    END;
                END IF;
                IF v_outcome <> 'linked' THEN
                    BEGIN
                        -- The user is there after all: the insert-or-update below decides.
                        DECLARE CONTINUE HANDLER FOR 1062 SET v_taken = 2;
                        INSERT INTO clerk_users (clerk_id, email, first_name, last_name, username,
                            image_url, external_id, public_metadata, raw_json, clerk_updated_at,
                            sync_status, created_at, updated_at)
                        VALUES (p_clerk_id, p_email, p_first_name, p_last_name, p_username,
                            p_image_url, p_external_id, p_public_metadata, p_raw_json, p_version,
                            'synced', p_now, p_now);
                        IF v_taken <> 2 THEN
                            SET v_outcome = 'inserted';
                        END IF;
                    END;
                END IF;
                IF v_outcome NOT IN ('linked', 'inserted') THEN
                    -- Only an insert sets LAST_INSERT_ID() again; an untouched row leaves the 0.
                    DO LAST_INSERT_ID(0);
                    INSERT INTO clerk_users (clerk_id, email, first_name, last_name, username,
                        image_url, external_id, public_metadata, raw_json, clerk_updated_at,
                        sync_status, created_at, updated_at)
                    VALUES (p_clerk_id, p_email, p_first_name, p_last_name, p_username, p_image_url,
                        p_external_id, p_public_metadata, p_raw_json, p_version, 'synced', p_now, p_now)
                    ON DUPLICATE KEY UPDATE
                        email = IF(deleted_at IS NULL AND (clerk_updated_at IS NULL OR clerk_updated_at < VALUES(clerk_updated_at)), VALUES(email), email),
                        first_name = IF(deleted_at IS NULL AND (clerk_updated_at IS NULL OR clerk_updated_at < VALUES(clerk_updated_at)), VALUES(first_name), first_name),
                        last_name = IF(deleted_at IS NULL AND (clerk_updated_at IS NULL OR clerk_updated_at < VALUES(clerk_updated_at)), VALUES(last_name), last_name),
                        username = IF(deleted_at IS NULL AND (clerk_updated_at IS NULL OR clerk_updated_at < VALUES(clerk_updated_at)), VALUES(username), username),
                        image_url = IF(deleted_at IS NULL AND (clerk_updated_at IS NULL OR clerk_updated_at < VALUES(clerk_updated_at)), VALUES(image_url), image_url),
                        external_id = IF(deleted_at IS NULL AND (clerk_updated_at IS NULL OR clerk_updated_at < VALUES(clerk_updated_at)), VALUES(external_id), external_id),
                        public_metadata = IF(deleted_at IS NULL AND (clerk_updated_at IS NULL OR clerk_updated_at < VALUES(clerk_updated_at)), VALUES(public_metadata), public_metadata),
                        raw_json = IF(deleted_at IS NULL AND (clerk_updated_at IS NULL OR clerk_updated_at < VALUES(clerk_updated_at)), VALUES(raw_json), raw_json),
                        sync_error = IF(deleted_at IS NULL AND (clerk_updated_at IS NULL OR clerk_updated_at < VALUES(clerk_updated_at)) AND sync_status <> 'pending', NULL, sync_error),
                        sync_status = IF(deleted_at IS NULL AND (clerk_updated_at IS NULL OR clerk_updated_at < VALUES(clerk_updated_at)) AND sync_status <> 'pending', 'synced', sync_status),
                        updated_at = IF(deleted_at IS NULL AND (clerk_updated_at IS NULL OR clerk_updated_at < VALUES(clerk_updated_at)), VALUES(updated_at), updated_at),
                        clerk_updated_at = IF(deleted_at IS NULL AND (clerk_updated_at IS NULL OR clerk_updated_at < VALUES(clerk_updated_at)), VALUES(clerk_updated_at), clerk_updated_at);
                    SET v_rows = ROW_COUNT();
                    IF v_rows = 2 THEN
                        SET v_outcome = 'updated';
                    ELSEIF LAST_INSERT_ID() <> 0 THEN
                        SET v_outcome = 'inserted';
                    ELSE
                        SELECT deleted_at IS NOT NULL INTO v_deleted
                            FROM clerk_users WHERE clerk_id = p_clerk_id;
                        SET v_outcome = IF(v_deleted = 1, 'deleted', 'stale');
                    END IF;
                END IF;
            END IF;
        ELSEIF p_kind = 2 THEN
            DO LAST_INSERT_ID(0);
            INSERT INTO clerk_users (clerk_id, external_id, deleted_at, sync_status,
                created_at, updated_at)
            VALUES (p_clerk_id, p_external_id, p_deleted_at, 'synced', p_now, p_now)
            ON DUPLICATE KEY UPDATE
                external_id = IF(deleted_at IS NULL, VALUES(external_id), external_id),
                email = IF(deleted_at IS NULL, NULL, email),
                first_name = IF(deleted_at IS NULL, NULL, first_name),
                last_name = IF(deleted_at IS NULL, NULL, last_name),
                username = IF(deleted_at IS NULL, NULL, username),
                image_url = IF(deleted_at IS NULL, NULL, image_url),
                public_metadata = IF(deleted_at IS NULL, NULL, public_metadata),
                raw_json = IF(deleted_at IS NULL, NULL, raw_json),
                clerk_updated_at = IF(deleted_at IS NULL, NULL, clerk_updated_at),
                sync_error = IF(deleted_at IS NULL, NULL, sync_error),
                sync_status = IF(deleted_at IS NULL, 'synced', sync_status),
                updated_at = IF(deleted_at IS NULL, VALUES(updated_at), updated_at),
                deleted_at = IF(deleted_at IS NULL, VALUES(deleted_at), deleted_at);
            SET v_rows = ROW_COUNT();
            SET v_outcome = IF(v_rows = 2 OR LAST_INSERT_ID() <> 0, 'tombstoned', 'already_deleted');
        ELSE
            SET v_outcome = 'ledger_only';
        END IF;

        INSERT INTO clerk_webhook_events (svix_id, event_type, object_id, received_at, payload,
            processed_at, outcome)
        VALUES (p_svix_id, p_event_type, p_object_id, p_received_at, p_payload, p_now,
            CASE v_outcome
                WHEN 'ledger_only' THEN 'ignored'
                WHEN 'stale' THEN 'stale'
                WHEN 'deleted' THEN 'stale'
                WHEN 'already_deleted' THEN 'stale'
                ELSE 'applied'
            END)
        ON DUPLICATE KEY UPDATE
            outcome = IF(processed_at IS NULL, VALUES(outcome), outcome),
            error = IF(processed_at IS NULL, NULL, error),
            processed_at = IF(processed_at IS NULL, VALUES(processed_at), processed_at);
        COMMIT;
        SELECT v_outcome AS outcome;
    END IF;
END;
