CREATE TABLE lms.AssignmentSubmission (
    AssignmentSubmissionIdentifier INT GENERATED ALWAYS AS IDENTITY,
    SourceSystemIdentifier VARCHAR(255) NOT NULL,
    SourceSystem VARCHAR(255) NOT NULL,
    AssignmentIdentifier INT NOT NULL,
    LMSUserIdentifier INT NOT NULL,
    SubmissionStatus VARCHAR(255) NULL,
    SubmissionDateTime TIMESTAMP NULL,
    EarnedPoints INT NULL,
    Grade VARCHAR(20) NULL,
    SourceCreateDate TIMESTAMP NULL,
    SourceLastModifiedDate TIMESTAMP NULL,
    CreateDate TIMESTAMP NOT NULL DEFAULT now(),
    LastModifiedDate TIMESTAMP NOT NULL DEFAULT now(),
    DeletedAt TIMESTAMP NULL,
    CONSTRAINT AssignmentSubmission_PK PRIMARY KEY (AssignmentSubmissionIdentifier),
    CONSTRAINT AssignmentSubmission_UK_SourceSystem UNIQUE (SourceSystemIdentifier, SourceSystem),
    CONSTRAINT FK_AssignmentSubmission_Assignment FOREIGN KEY (AssignmentIdentifier)
        REFERENCES lms.Assignment (AssignmentIdentifier) ON DELETE CASCADE,
    CONSTRAINT FK_AssignmentSubmission_User FOREIGN KEY (LMSUserIdentifier)
        REFERENCES lms.LMSUser (LMSUserIdentifier) ON DELETE CASCADE
);

CREATE TABLE lms.stg_AssignmentSubmission (
    StagingId INT GENERATED ALWAYS AS IDENTITY,
    SourceSystemIdentifier VARCHAR(255) NOT NULL,
    SourceSystem VARCHAR(255) NOT NULL,
    AssignmentSourceSystemIdentifier VARCHAR(255) NOT NULL,
    LMSUserSourceSystemIdentifier VARCHAR(255) NOT NULL,
    SubmissionStatus VARCHAR(255) NULL,
    SubmissionDateTime TIMESTAMP NULL,
    EarnedPoints INT NULL,
    Grade VARCHAR(20) NULL,
    SourceCreateDate TIMESTAMP NULL,
    SourceLastModifiedDate TIMESTAMP NULL,
    CreateDate TIMESTAMP NOT NULL,
    LastModifiedDate TIMESTAMP NOT NULL,
    CONSTRAINT stg_AssignmentSubmission_PK PRIMARY KEY (StagingId)
);
CREATE INDEX IX_stg_AssignmentSubmission_Natural_Key
    ON lms.stg_AssignmentSubmission (SourceSystemIdentifier, SourceSystem, LastModifiedDate);
