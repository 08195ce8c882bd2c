CREATE TABLE lms.Assignment (
    AssignmentIdentifier INT GENERATED ALWAYS AS IDENTITY,
    SourceSystemIdentifier VARCHAR(255) NOT NULL,
    SourceSystem VARCHAR(255) NOT NULL,
    LMSSectionIdentifier INT NOT NULL,
    Title VARCHAR(255) NOT NULL,
    AssignmentCategory VARCHAR(60) NOT NULL,
    AssignmentDescription VARCHAR(1024) NULL,
    StartDateTime TIMESTAMP NULL,
    EndDateTime TIMESTAMP NULL,
    DueDateTime TIMESTAMP NULL,
    MaxPoints INT NULL,
    SourceCreateDate TIMESTAMP NULL,
    SourceLastModifiedDate TIMESTAMP NULL,
    CreateDate TIMESTAMP NOT NULL DEFAULT now(),
    LastModifiedDate TIMESTAMP NOT NULL DEFAULT now(),
    DeletedAt TIMESTAMP NULL,
    CONSTRAINT Assignment_PK PRIMARY KEY (AssignmentIdentifier),
    CONSTRAINT Assignment_UK_SourceSystem UNIQUE (SourceSystemIdentifier, SourceSystem),
    CONSTRAINT FK_Assignment_LMSSection FOREIGN KEY (LMSSectionIdentifier)
        REFERENCES lms.LMSSection (LMSSectionIdentifier) ON DELETE CASCADE
);

CREATE TABLE lms.stg_Assignment (
    StagingId INT GENERATED ALWAYS AS IDENTITY,
    SourceSystemIdentifier VARCHAR(255) NOT NULL,
    SourceSystem VARCHAR(255) NOT NULL,
    LMSSectionSourceSystemIdentifier VARCHAR(255) NOT NULL,
    Title VARCHAR(255) NOT NULL,
    AssignmentCategory VARCHAR(60) NOT NULL,
    AssignmentDescription VARCHAR(1024) NULL,
    StartDateTime TIMESTAMP NULL,
    EndDateTime TIMESTAMP NULL,
    DueDateTime TIMESTAMP NULL,
    MaxPoints INT NULL,
    SourceCreateDate TIMESTAMP NULL,
    SourceLastModifiedDate TIMESTAMP NULL,
    CreateDate TIMESTAMP NOT NULL DEFAULT now(),
    LastModifiedDate TIMESTAMP NOT NULL DEFAULT now(),
    CONSTRAINT stg_Assignment_PK PRIMARY KEY (StagingId)
);
CREATE INDEX IX_stg_Assignment_Natural_Key ON lms.stg_Assignment (SourceSystemIdentifier, SourceSystem, LastModifiedDate);

CREATE TABLE lms.AssignmentSubmissionType (
    AssignmentIdentifier INT NOT NULL,
    SubmissionType VARCHAR(60) NOT NULL,
    CreateDate TIMESTAMP NOT NULL DEFAULT now(),
    DeletedAt TIMESTAMP NULL,
    CONSTRAINT AssignmentSubmissionType_PK PRIMARY KEY (AssignmentIdentifier, SubmissionType),
    CONSTRAINT FK_AssignmentSubmissionType_Assignment FOREIGN KEY (AssignmentIdentifier)
        REFERENCES lms.Assignment (AssignmentIdentifier) ON DELETE CASCADE
);
CREATE INDEX FK_AssignmentSubmissionType_Assignment ON lms.AssignmentSubmissionType (AssignmentIdentifier);

CREATE TABLE lms.stg_AssignmentSubmissionType (
    StagingId INT GENERATED ALWAYS AS IDENTITY,
    SourceSystemIdentifier VARCHAR(255) NOT NULL,
    SourceSystem VARCHAR(255) NOT NULL,
    SubmissionType VARCHAR(60) NOT NULL,
    CreateDate TIMESTAMP NOT NULL DEFAULT now(),
    CONSTRAINT stg_AssignmentSubmissionType_PK PRIMARY KEY (StagingId)
);
CREATE INDEX IX_stg_AssignmentSubmissionType_Natural_Key ON lms.stg_AssignmentSubmissionType (SourceSystemIdentifier, SourceSystem);
