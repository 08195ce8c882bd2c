-- lms-agent's harmonizer (2001-2999): our own procedures and views with upstream's names and
-- signatures, deployed by lms-agent only once the Ed-Fi ODS tables (edfi, lmsx) exist.
--
-- The upstream harmonizer journals its scripts in lms.MigrationJournal_Harmonizer under names that
-- collide with the loader's (0001_initialize_lms_database), so ours are journaled in lms.MigrationJournal
-- under their own numbers. Each script also records, in the upstream journal, the upstream scripts
-- whose objects it supersedes: the upstream harmonizer, run on this database, then finds nothing to
-- apply, and neither puts back its own procedures nor fails creating views that already exist.
-- On a database the upstream harmonizer prepared, the journal is there already and these scripts
-- replace its procedures and views in place (same names, same parameters, same view columns).
CREATE TABLE IF NOT EXISTS lms.MigrationJournal_Harmonizer (
    Script VARCHAR(250) NOT NULL,
    InstallDate TIMESTAMP NOT NULL DEFAULT now(),
    CONSTRAINT PK_MigrationJournal_Harmonizer PRIMARY KEY (Script)
);
INSERT INTO lms.MigrationJournal_Harmonizer (Script) VALUES ('0001_initialize_lms_database') ON CONFLICT DO NOTHING;

-- New lmsx rows get gen_random_uuid(), built in from PostgreSQL 13; older servers need pgcrypto.
-- Checked once here, never on each call (upstream defect H15).
DO $$ BEGIN
    IF to_regproc('gen_random_uuid') IS NULL THEN CREATE EXTENSION IF NOT EXISTS pgcrypto; END IF;
END $$;
