-- lms-agent's additions to the upstream schema. Numbered from 1001 so that they never collide with a
-- script a later upstream loader adds; the upstream loader ignores scripts it does not ship.
--
-- The content checksum tells a rewritten file from one already applied. The upstream loader does not
-- write it (NULL), which lms-agent reads as "recorded by the upstream loader".
ALTER TABLE lms.ProcessedFiles ADD COLUMN IF NOT EXISTS Checksum VARCHAR(64) NULL;
-- Paths longer than 255 characters (upstream defect D20).
ALTER TABLE lms.ProcessedFiles ALTER COLUMN FullPath TYPE VARCHAR(4096);
-- Natural-key lookups of the soft-delete scopes.
CREATE INDEX IF NOT EXISTS IX_LMSUserLMSSectionAssociation_Section ON lms.LMSUserLMSSectionAssociation (LMSSectionIdentifier);
CREATE INDEX IF NOT EXISTS IX_Assignment_LMSSection ON lms.Assignment (LMSSectionIdentifier);
CREATE INDEX IF NOT EXISTS IX_AssignmentSubmission_Assignment ON lms.AssignmentSubmission (AssignmentIdentifier);
CREATE INDEX IF NOT EXISTS IX_LMSSectionActivity_LMSSection ON lms.LMSSectionActivity (LMSSectionIdentifier);
