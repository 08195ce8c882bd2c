-- Copies the submissions of one LMS into lmsx.AssignmentSubmission. Upstream's name and parameters:
-- CALL lms.harmonize_assignment_submissions(_sourcesystem => 'Schoology', _namespace => 'uri://schoology.com').
--
-- A submission is copied when it is live, its assignment is in lmsx (2005, same namespace), its
-- user is linked to an ODS student (2002) and its status has a submission-status descriptor.
-- For Schoology, as upstream, an enrolled student without a submission gets a placeholder
-- '<section>#<assignment>#<user>' with status missing (due date passed) or Upcoming.
-- Differences from upstream, each an upstream defect (spec/harmonizer.md section 11):
-- * H5, H9: an lmsx row is this LMS's by (identifier, Namespace, StudentUSI); a soft-deleted
--   submission removes only its own row, never another LMS's row with the same identifier.
-- * H6: a row is updated when a value differs, not by comparing clocks; a placeholder is no longer
--   rewritten on every run, only when its status changes (Upcoming -> missing).
-- * H8: a placeholder goes once the student's real submission is there; placeholders are made only for
--   live Schoology users and sections, for the section's own assignments, and for enrollments of the
--   section itself (its whole ODS key, not only SectionIdentifier).
-- * Stale rows: an lmsx row of this namespace that nothing live backs any more is deleted.
-- * H13: descriptors compared without regard to case (see 2005).
-- * Every new row gets its own Id (a real ODS has a unique index on lmsx.AssignmentSubmission.Id).
CREATE OR REPLACE PROCEDURE lms.harmonize_assignment_submissions(_sourcesystem VARCHAR(255), _namespace VARCHAR(255))
LANGUAGE plpgsql AS $$
BEGIN
    -- Each status value of this LMS (and the two placeholder statuses) -> its descriptor.
    DROP TABLE IF EXISTS pg_temp.lmsagent_status;
    CREATE TEMPORARY TABLE lmsagent_status ON COMMIT DROP AS
    SELECT DISTINCT ON (v.SubmissionStatus) v.SubmissionStatus, d.DescriptorId
    FROM (SELECT DISTINCT SubmissionStatus FROM lms.AssignmentSubmission WHERE SourceSystem = _sourcesystem
          UNION SELECT 'missing' UNION SELECT 'Upcoming') v
    JOIN edfi.Descriptor d ON lower(d.CodeValue) = lower(v.SubmissionStatus)
        AND lower(d.Namespace) = lower('uri://ed-fi.org/edfilms/SubmissionStatusDescriptor/' || _sourcesystem)
    JOIN lmsx.SubmissionStatusDescriptor x ON x.SubmissionStatusDescriptorId = d.DescriptorId
    ORDER BY v.SubmissionStatus, (d.CodeValue = v.SubmissionStatus) DESC, d.DescriptorId;

    -- The live submissions this LMS's lmsx rows must match.
    DROP TABLE IF EXISTS pg_temp.lmsagent_submission;
    CREATE TEMPORARY TABLE lmsagent_submission ON COMMIT DROP AS
    SELECT sub.SourceSystemIdentifier AS Identifier, st.StudentUSI, x.AssignmentIdentifier, d.DescriptorId,
           sub.SubmissionDateTime, sub.EarnedPoints, sub.Grade
    FROM lms.AssignmentSubmission sub
    JOIN lms.Assignment a ON a.AssignmentIdentifier = sub.AssignmentIdentifier AND a.DeletedAt IS NULL
    JOIN lmsx.Assignment x ON x.AssignmentIdentifier = a.SourceSystemIdentifier AND x.Namespace = _namespace
    JOIN lms.LMSUser u ON u.LMSUserIdentifier = sub.LMSUserIdentifier AND u.DeletedAt IS NULL
    JOIN edfi.Student st ON st.Id = u.EdFiStudentId
    JOIN lmsagent_status d ON d.SubmissionStatus = sub.SubmissionStatus
    WHERE sub.SourceSystem = _sourcesystem AND sub.DeletedAt IS NULL;

    IF lower(_sourcesystem) = 'schoology' THEN
        INSERT INTO lmsagent_submission (Identifier, StudentUSI, AssignmentIdentifier, DescriptorId)
        SELECT DISTINCT format('%s#%s#%s', ls.SourceSystemIdentifier, x.AssignmentIdentifier, lu.SourceSystemIdentifier),
               st.StudentUSI, x.AssignmentIdentifier,
               CASE WHEN x.DueDateTime < localtimestamp THEN missing.DescriptorId ELSE upcoming.DescriptorId END
        FROM lms.Assignment a
        JOIN lms.LMSSection ls ON ls.LMSSectionIdentifier = a.LMSSectionIdentifier AND ls.DeletedAt IS NULL
        JOIN lmsx.Assignment x ON x.AssignmentIdentifier = a.SourceSystemIdentifier AND x.Namespace = _namespace
        JOIN edfi.StudentSectionAssociation ssa ON ssa.SectionIdentifier = x.SectionIdentifier
            AND ssa.LocalCourseCode = x.LocalCourseCode AND ssa.SchoolId = x.SchoolId AND ssa.SchoolYear = x.SchoolYear
            AND ssa.SessionName = x.SessionName
            AND (ssa.EndDate IS NULL OR ssa.EndDate > a.DueDateTime)
        JOIN edfi.Student st ON st.StudentUSI = ssa.StudentUSI
        JOIN lms.LMSUser lu ON lu.EdFiStudentId = st.Id AND lu.SourceSystem = _sourcesystem AND lu.DeletedAt IS NULL
        CROSS JOIN (SELECT DescriptorId FROM lmsagent_status WHERE SubmissionStatus = 'missing') missing
        CROSS JOIN (SELECT DescriptorId FROM lmsagent_status WHERE SubmissionStatus = 'Upcoming') upcoming
        WHERE a.SourceSystem = _sourcesystem AND a.DeletedAt IS NULL
          AND NOT EXISTS (SELECT 1 FROM lms.AssignmentSubmission s
                          WHERE s.AssignmentIdentifier = a.AssignmentIdentifier AND s.LMSUserIdentifier = lu.LMSUserIdentifier
                            AND s.DeletedAt IS NULL);
    END IF;
    CREATE INDEX ON lmsagent_submission (Identifier, StudentUSI);
    ANALYZE lmsagent_submission;

    DELETE FROM lmsx.AssignmentSubmission xs
    WHERE xs.Namespace = _namespace
      AND NOT EXISTS (SELECT 1 FROM lmsagent_submission c
                      WHERE c.Identifier = xs.AssignmentSubmissionIdentifier AND c.StudentUSI = xs.StudentUSI);

    UPDATE lmsx.AssignmentSubmission AS xs SET
        AssignmentIdentifier = c.AssignmentIdentifier, SubmissionStatusDescriptorId = c.DescriptorId,
        SubmissionDateTime = c.SubmissionDateTime, EarnedPoints = c.EarnedPoints, Grade = c.Grade, LastModifiedDate = now()
    FROM lmsagent_submission c
    WHERE xs.Namespace = _namespace AND xs.AssignmentSubmissionIdentifier = c.Identifier AND xs.StudentUSI = c.StudentUSI
      AND (xs.AssignmentIdentifier IS DISTINCT FROM c.AssignmentIdentifier OR xs.SubmissionStatusDescriptorId IS DISTINCT FROM c.DescriptorId
           OR xs.SubmissionDateTime IS DISTINCT FROM c.SubmissionDateTime OR xs.EarnedPoints IS DISTINCT FROM c.EarnedPoints
           OR xs.Grade IS DISTINCT FROM c.Grade);

    INSERT INTO lmsx.AssignmentSubmission (AssignmentSubmissionIdentifier, Namespace, StudentUSI, AssignmentIdentifier,
        SubmissionStatusDescriptorId, SubmissionDateTime, EarnedPoints, Grade, Id)
    SELECT c.Identifier, _namespace, c.StudentUSI, c.AssignmentIdentifier, c.DescriptorId, c.SubmissionDateTime, c.EarnedPoints,
        c.Grade, gen_random_uuid()
    FROM lmsagent_submission c
    WHERE NOT EXISTS (SELECT 1 FROM lmsx.AssignmentSubmission xs
                      WHERE xs.AssignmentSubmissionIdentifier = c.Identifier AND xs.Namespace = _namespace AND xs.StudentUSI = c.StudentUSI);

    DROP TABLE lmsagent_submission;
    DROP TABLE lmsagent_status;
END $$;

INSERT INTO lms.MigrationJournal_Harmonizer (Script) VALUES ('0011_harmonize_assignment_submissions') ON CONFLICT DO NOTHING;
