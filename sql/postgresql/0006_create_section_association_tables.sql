CREATE TABLE lms.LMSUserLMSSectionAssociation (
    LMSUserLMSSectionAssociationIdentifier INT GENERATED ALWAYS AS IDENTITY,
    LMSSectionIdentifier INT NOT NULL,
    LMSUserIdentifier INT NOT NULL,
    SourceSystemIdentifier VARCHAR(255) NOT NULL,
    SourceSystem VARCHAR(255) NOT NULL,
    EnrollmentStatus VARCHAR(60) NOT NULL,
    SourceCreateDate TIMESTAMP NULL,
    SourceLastModifiedDate TIMESTAMP NULL,
    CreateDate TIMESTAMP NOT NULL DEFAULT now(),
    LastModifiedDate TIMESTAMP NOT NULL DEFAULT now(),
    DeletedAt TIMESTAMP NULL,
    CONSTRAINT LMSUserLMSSectionAssociation_PK PRIMARY KEY (LMSUserLMSSectionAssociationIdentifier),
    CONSTRAINT LMSUserLMSSectionAssociation_DF_UK_SourceSystem UNIQUE (SourceSystemIdentifier, SourceSystem),
    CONSTRAINT FK_LMSUserLMSSectionAssociation_LMSSection FOREIGN KEY (LMSSectionIdentifier)
        REFERENCES lms.LMSSection (LMSSectionIdentifier) ON DELETE CASCADE,
    CONSTRAINT FK_LMSUserLMSSectionAssociation_LMSUser FOREIGN KEY (LMSUserIdentifier)
        REFERENCES lms.LMSUser (LMSUserIdentifier) ON DELETE CASCADE
);

CREATE TABLE lms.stg_LMSUserLMSSectionAssociation (
    StagingId INT GENERATED ALWAYS AS IDENTITY,
    LMSSectionSourceSystemIdentifier VARCHAR(255) NOT NULL,
    LMSUserSourceSystemIdentifier VARCHAR(255) NOT NULL,
    SourceSystemIdentifier VARCHAR(255) NOT NULL,
    SourceSystem VARCHAR(255) NOT NULL,
    EnrollmentStatus VARCHAR(60) NOT NULL,
    SourceCreateDate TIMESTAMP NULL,
    SourceLastModifiedDate TIMESTAMP NULL,
    CreateDate TIMESTAMP NOT NULL,
    LastModifiedDate TIMESTAMP NOT NULL,
    CONSTRAINT stg_LMSUserLMSSectionAssociation_PK PRIMARY KEY (StagingId)
);
CREATE INDEX IX_stg_LMSUserLMSSectionAssociation_Natural_Key
    ON lms.stg_LMSUserLMSSectionAssociation (SourceSystemIdentifier, SourceSystem, LastModifiedDate);
