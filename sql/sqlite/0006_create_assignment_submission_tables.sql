CREATE TABLE AssignmentSubmission (
    AssignmentSubmissionIdentifier INTEGER NOT NULL CONSTRAINT AssignmentSubmission_PK PRIMARY KEY,
    SourceSystemIdentifier TEXT NOT NULL,
    SourceSystem TEXT NOT NULL,
    AssignmentIdentifier INTEGER NOT NULL
        CONSTRAINT FK_AssignmentSubmission_Assignment REFERENCES Assignment (AssignmentIdentifier) ON DELETE CASCADE,
    LMSUserIdentifier INTEGER NOT NULL
        CONSTRAINT FK_AssignmentSubmission_User REFERENCES LMSUser (LMSUserIdentifier) ON DELETE CASCADE,
    SubmissionStatus TEXT,
    SubmissionDateTime TEXT,
    EarnedPoints INTEGER,
    Grade TEXT,
    SourceCreateDate TEXT,
    SourceLastModifiedDate TEXT,
    CreateDate TEXT NOT NULL,
    LastModifiedDate TEXT NOT NULL,
    DeletedAt TEXT,
    CONSTRAINT AssignmentSubmission_UK_SourceSystem UNIQUE (SourceSystemIdentifier, SourceSystem)
);
CREATE INDEX IX_AssignmentSubmission_Assignment ON AssignmentSubmission (AssignmentIdentifier);
