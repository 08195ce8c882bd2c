CREATE TABLE lms.LMSSystemActivity (
    LMSSystemActivityIdentifier INT GENERATED ALWAYS AS IDENTITY,
    SourceSystemIdentifier VARCHAR(255) NOT NULL,
    SourceSystem VARCHAR(255) NOT NULL,
    LMSUserIdentifier INT NOT NULL,
    ActivityType VARCHAR(60) NOT NULL,
    ActivityDateTime TIMESTAMP NOT NULL,
    ActivityStatus VARCHAR(60) NOT NULL,
    ParentSourceSystemIdentifier VARCHAR(255) NULL,
    ActivityTimeInMinutes INT NULL,
    SourceCreateDate TIMESTAMP NULL,
    SourceLastModifiedDate TIMESTAMP NULL,
    DeletedAt TIMESTAMP NULL,
    CreateDate TIMESTAMP NOT NULL DEFAULT now(),
    LastModifiedDate TIMESTAMP NOT NULL DEFAULT now(),
    CONSTRAINT LMSSystemActivity_PK PRIMARY KEY (LMSSystemActivityIdentifier),
    CONSTRAINT LMSSystemActivity_UK_SourceSystem UNIQUE (SourceSystemIdentifier, SourceSystem),
    CONSTRAINT FK_LMSSystemActivity_LMSUser FOREIGN KEY (LMSUserIdentifier)
        REFERENCES lms.LMSUser (LMSUserIdentifier) ON DELETE CASCADE
);

CREATE TABLE lms.stg_LMSSystemActivity (
    StagingId INT GENERATED ALWAYS AS IDENTITY,
    SourceSystemIdentifier VARCHAR(255) NOT NULL,
    SourceSystem VARCHAR(255) NOT NULL,
    LMSUserSourceSystemIdentifier VARCHAR(255) NOT NULL,
    ActivityType VARCHAR(60) NOT NULL,
    ActivityDateTime TIMESTAMP NOT NULL,
    ActivityStatus VARCHAR(60) NOT NULL,
    ParentSourceSystemIdentifier VARCHAR(255) NULL,
    ActivityTimeInMinutes INT NULL,
    SourceCreateDate TIMESTAMP NULL,
    SourceLastModifiedDate TIMESTAMP NULL,
    CreateDate TIMESTAMP NOT NULL,
    LastModifiedDate TIMESTAMP NOT NULL,
    CONSTRAINT stg_LMSSystemActivity_PK PRIMARY KEY (StagingId)
);
CREATE INDEX IX_stg_LMSSystemActivity_Natural_Key
    ON lms.stg_LMSSystemActivity (SourceSystemIdentifier, SourceSystem, LastModifiedDate);
