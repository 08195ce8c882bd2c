-- What the assignment procedures could not copy, and the descriptors they lack. Upstream's names and
-- columns: the rows of lms.Assignment / lms.AssignmentSubmission with every column, now named one by
-- one in the table's order (upstream's SELECT * froze the list anyway, defect H14), so that
-- CREATE OR REPLACE upgrades the upstream views. The views use the procedures' own matching rules:
-- * a descriptor counts only when the procedures would use it: registered in its lmsx table, code
--   value and namespace compared without regard to case (H13);
-- * an lmsx row is an LMS's by the code value of its source-system descriptor, as upstream;
-- * live rows of a soft-deleted section or assignment are not expected in lmsx, so they are not
--   exceptions (upstream lists them forever).

CREATE OR REPLACE VIEW lmsx.missing_assignment_category_descriptors AS
SELECT a.AssignmentIdentifier, a.SourceSystemIdentifier, a.SourceSystem, a.LMSSectionIdentifier, a.Title, a.AssignmentCategory,
       a.AssignmentDescription, a.StartDateTime, a.EndDateTime, a.DueDateTime, a.MaxPoints, a.SourceCreateDate,
       a.SourceLastModifiedDate, a.CreateDate, a.LastModifiedDate, a.DeletedAt
FROM lms.Assignment a
WHERE NOT EXISTS (
    SELECT 1 FROM edfi.Descriptor d
    JOIN lmsx.AssignmentCategoryDescriptor x ON x.AssignmentCategoryDescriptorId = d.DescriptorId
    WHERE lower(d.CodeValue) = lower(a.AssignmentCategory)
      AND lower(d.Namespace) = lower('uri://ed-fi.org/edfilms/AssignmentCategoryDescriptor/' || a.SourceSystem));

CREATE OR REPLACE VIEW lmsx.missing_assignment_submission_status_descriptors AS
SELECT s.AssignmentSubmissionIdentifier, s.SourceSystemIdentifier, s.SourceSystem, s.AssignmentIdentifier, s.LMSUserIdentifier,
       s.SubmissionStatus, s.SubmissionDateTime, s.EarnedPoints, s.Grade, s.SourceCreateDate, s.SourceLastModifiedDate,
       s.CreateDate, s.LastModifiedDate, s.DeletedAt
FROM lms.AssignmentSubmission s
WHERE NOT EXISTS (
    SELECT 1 FROM edfi.Descriptor d
    JOIN lmsx.SubmissionStatusDescriptor x ON x.SubmissionStatusDescriptorId = d.DescriptorId
    WHERE lower(d.CodeValue) = lower(s.SubmissionStatus)
      AND lower(d.Namespace) = lower('uri://ed-fi.org/edfilms/SubmissionStatusDescriptor/' || s.SourceSystem));

CREATE OR REPLACE VIEW lmsx.assignment_submissions_exceptions AS
SELECT s.AssignmentSubmissionIdentifier, s.SourceSystemIdentifier, s.SourceSystem, s.AssignmentIdentifier, s.LMSUserIdentifier,
       s.SubmissionStatus, s.SubmissionDateTime, s.EarnedPoints, s.Grade, s.SourceCreateDate, s.SourceLastModifiedDate,
       s.CreateDate, s.LastModifiedDate, s.DeletedAt
FROM lms.AssignmentSubmission s
JOIN lms.Assignment a ON a.AssignmentIdentifier = s.AssignmentIdentifier AND a.DeletedAt IS NULL
JOIN lms.LMSSection ls ON ls.LMSSectionIdentifier = a.LMSSectionIdentifier AND ls.DeletedAt IS NULL
WHERE s.DeletedAt IS NULL
  AND NOT EXISTS (
    SELECT 1 FROM lmsx.AssignmentSubmission xs
    JOIN lmsx.Assignment x ON x.AssignmentIdentifier = xs.AssignmentIdentifier AND x.Namespace = xs.Namespace
    JOIN edfi.Descriptor d ON d.DescriptorId = x.LMSSourceSystemDescriptorId
    WHERE xs.AssignmentSubmissionIdentifier = s.SourceSystemIdentifier AND x.AssignmentIdentifier = a.SourceSystemIdentifier
      AND lower(d.CodeValue) = lower(s.SourceSystem));

CREATE OR REPLACE VIEW lmsx.assignments_exceptions AS
SELECT a.AssignmentIdentifier, a.SourceSystemIdentifier, a.SourceSystem, a.LMSSectionIdentifier, a.Title, a.AssignmentCategory,
       a.AssignmentDescription, a.StartDateTime, a.EndDateTime, a.DueDateTime, a.MaxPoints, a.SourceCreateDate,
       a.SourceLastModifiedDate, a.CreateDate, a.LastModifiedDate, a.DeletedAt
FROM lms.Assignment a
JOIN lms.LMSSection ls ON ls.LMSSectionIdentifier = a.LMSSectionIdentifier AND ls.DeletedAt IS NULL
WHERE a.DeletedAt IS NULL
  AND NOT EXISTS (
    SELECT 1 FROM lmsx.Assignment x
    JOIN edfi.Descriptor d ON d.DescriptorId = x.LMSSourceSystemDescriptorId
    WHERE x.AssignmentIdentifier = a.SourceSystemIdentifier AND lower(d.CodeValue) = lower(a.SourceSystem));

INSERT INTO lms.MigrationJournal_Harmonizer (Script) VALUES
    ('0012_view_missing_assignment_category_descriptors'), ('0013_view_missing_assignmentsubmission_status_descriptors'),
    ('0014_view_assignment_submissions_exceptions'), ('0015_view_assignments_exceptions')
ON CONFLICT DO NOTHING;
