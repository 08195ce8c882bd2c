CREATE TABLE LMSUserAttendanceEvent (
    LMSUserAttendanceEventIdentifier INTEGER NOT NULL CONSTRAINT LMSUserAttendanceEvent_PK PRIMARY KEY,
    SourceSystemIdentifier TEXT NOT NULL,
    SourceSystem TEXT NOT NULL,
    LMSUserIdentifier INTEGER NOT NULL
        CONSTRAINT FK_LMSUserAttendanceEvent_LMSUser REFERENCES LMSUser (LMSUserIdentifier),
    LMSSectionIdentifier INTEGER,
    LMSUserLMSSectionAssociationIdentifier INTEGER
        CONSTRAINT FK_LMSUserAttendanceEvent_LMSUserLMSSectionAssociation
        REFERENCES LMSUserLMSSectionAssociation (LMSUserLMSSectionAssociationIdentifier),
    EventDate TEXT NOT NULL,
    AttendanceStatus TEXT NOT NULL,
    SourceCreateDate TEXT,
    SourceLastModifiedDate TEXT,
    DeletedAt TEXT,
    CreateDate TEXT NOT NULL,
    LastModifiedDate TEXT NOT NULL,
    CONSTRAINT LMSUserAttendanceEvent_UK_SourceSystem UNIQUE (SourceSystemIdentifier, SourceSystem)
);
CREATE INDEX FK_LMSUserAttendanceEvent_LMSUser ON LMSUserAttendanceEvent (LMSUserIdentifier);
CREATE INDEX FK_LMSUserAttendanceEvent_LMSUserLMSSectionAssociation
    ON LMSUserAttendanceEvent (LMSSectionIdentifier, LMSUserIdentifier, LMSUserLMSSectionAssociationIdentifier);
