CREATE TABLE lms.LMSUserAttendanceEvent (
    LMSUserAttendanceEventIdentifier INT GENERATED ALWAYS AS IDENTITY,
    SourceSystemIdentifier VARCHAR(255) NOT NULL,
    SourceSystem VARCHAR(255) NOT NULL,
    LMSUserIdentifier INT NOT NULL,
    LMSSectionIdentifier INT NULL,
    LMSUserLMSSectionAssociationIdentifier INT NULL,
    EventDate DATE NOT NULL,
    AttendanceStatus VARCHAR(60) NOT NULL,
    SourceCreateDate TIMESTAMP NULL,
    SourceLastModifiedDate TIMESTAMP NULL,
    DeletedAt TIMESTAMP NULL,
    CreateDate TIMESTAMP NOT NULL DEFAULT now(),
    LastModifiedDate TIMESTAMP NOT NULL DEFAULT now(),
    CONSTRAINT LMSUserAttendanceEvent_PK PRIMARY KEY (LMSUserAttendanceEventIdentifier),
    CONSTRAINT LMSUserAttendanceEvent_UK_SourceSystem UNIQUE (SourceSystemIdentifier, SourceSystem),
    CONSTRAINT FK_LMSUserAttendanceEvent_LMSUser FOREIGN KEY (LMSUserIdentifier)
        REFERENCES lms.LMSUser (LMSUserIdentifier),
    CONSTRAINT FK_LMSUserAttendanceEvent_LMSUserLMSSectionAssociation FOREIGN KEY (LMSUserLMSSectionAssociationIdentifier)
        REFERENCES lms.LMSUserLMSSectionAssociation (LMSUserLMSSectionAssociationIdentifier)
);
CREATE INDEX FK_LMSUserAttendanceEvent_LMSUser ON lms.LMSUserAttendanceEvent (LMSUserIdentifier);
CREATE INDEX FK_LMSUserAttendanceEvent_LMSUserLMSSectionAssociation
    ON lms.LMSUserAttendanceEvent (LMSSectionIdentifier, LMSUserIdentifier, LMSUserLMSSectionAssociationIdentifier);

CREATE TABLE lms.stg_LMSUserAttendanceEvent (
    StagingId INT GENERATED ALWAYS AS IDENTITY,
    SourceSystemIdentifier VARCHAR(255) NOT NULL,
    SourceSystem VARCHAR(255) NOT NULL,
    LMSUserSourceSystemIdentifier VARCHAR(255) NOT NULL,
    LMSSectionSourceSystemIdentifier VARCHAR(255) NULL,
    EventDate DATE NOT NULL,
    AttendanceStatus VARCHAR(60) NOT NULL,
    SourceCreateDate TIMESTAMP NULL,
    SourceLastModifiedDate TIMESTAMP NULL,
    CreateDate TIMESTAMP NOT NULL,
    LastModifiedDate TIMESTAMP NOT NULL,
    CONSTRAINT stg_LMSUserAttendanceEvent_PK PRIMARY KEY (StagingId)
);
CREATE INDEX IX_stg_LMSUserAttendanceEvent_Natural_Key
    ON lms.stg_LMSUserAttendanceEvent (SourceSystemIdentifier, SourceSystem, LastModifiedDate);
