-- Whether a recorded file was merged. lms-agent records a superseded snapshot (an older snapshot of a
-- scope that arrived after a newer one was applied) without merging it, so that the upstream loader,
-- sharing the database, never applies the stale file either. Without this column such a record looks
-- like an applied file to a later pass (after a crash, or with a rebuilt buffer), which would then
-- take the stale file's rows for applied ones.
-- TRUE: merged. FALSE: recorded without being merged. NULL: written by the upstream loader or by an
-- lms-agent version before this column (all of which merged the file).
ALTER TABLE lms.ProcessedFiles ADD COLUMN IF NOT EXISTS Applied BOOLEAN NULL;
