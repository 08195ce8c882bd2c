CREATE TABLE lms.ProcessedFiles (
    FullPath VARCHAR(255) NOT NULL,
    ResourceName VARCHAR(128) NOT NULL,
    NumberOfRows INT NOT NULL,
    UploadDateTime TIMESTAMP NOT NULL DEFAULT now(),
    CONSTRAINT ProcessedFiles_PK PRIMARY KEY (FullPath)
);
