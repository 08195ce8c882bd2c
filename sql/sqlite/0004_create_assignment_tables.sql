CREATE TABLE Assignment (
    AssignmentIdentifier INTEGER NOT NULL CONSTRAINT Assignment_PK PRIMARY KEY,
    SourceSystemIdentifier TEXT NOT NULL,
    SourceSystem TEXT NOT NULL,
    LMSSectionIdentifier INTEGER NOT NULL
        CONSTRAINT FK_Assignment_LMSSection REFERENCES LMSSection (LMSSectionIdentifier) ON DELETE CASCADE,
    Title TEXT NOT NULL,
    AssignmentCategory TEXT NOT NULL,
    AssignmentDescription TEXT,
    StartDateTime TEXT,
    EndDateTime TEXT,
    DueDateTime TEXT,
    MaxPoints INTEGER,
    SourceCreateDate TEXT,
    SourceLastModifiedDate TEXT,
    CreateDate TEXT NOT NULL,
    LastModifiedDate TEXT NOT NULL,
    DeletedAt TEXT,
    CONSTRAINT Assignment_UK_SourceSystem UNIQUE (SourceSystemIdentifier, SourceSystem)
);
CREATE INDEX IX_Assignment_LMSSection ON Assignment (LMSSectionIdentifier);

CREATE TABLE AssignmentSubmissionType (
    AssignmentIdentifier INTEGER NOT NULL
        CONSTRAINT FK_AssignmentSubmissionType_Assignment REFERENCES Assignment (AssignmentIdentifier) ON DELETE CASCADE,
    SubmissionType TEXT NOT NULL,
    CreateDate TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    DeletedAt TEXT,
    CONSTRAINT AssignmentSubmissionType_PK PRIMARY KEY (AssignmentIdentifier, SubmissionType)
);
