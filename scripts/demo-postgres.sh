#!/usr/bin/env bash
# The whole pipeline on a throwaway PostgreSQL: a database with the minimal Ed-Fi ODS of the tests
# (Tests/Fixtures/minimal-ods-postgresql.sql, loaded with psql: not a second copy), a generated Canvas extract;
# stage, forward and harmonize in one flush (the ODS has no students yet: every user is an exception),
# then the SIS sync fills the ODS and `lms-agent harmonize` links the rows; the exceptions reports and
# status. Everything goes under ./demo-pg; the server is stopped at the end.
# LMS_AGENT_BIN=path uses that binary instead of building a release one.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${LMS_AGENT_BIN:-}" ]; then
  scripts/install-deps.sh
  swift build -c release
fi
bin=${LMS_AGENT_BIN:-.build/release/lms-agent}
rm -rf demo-pg
mkdir -p demo-pg
eval "$(scripts/start-postgres.sh)"
trap 'scripts/stop-postgres.sh >/dev/null' EXIT
export PGHOST=$LMS_AGENT_TEST_PG_HOST PGPORT=$LMS_AGENT_TEST_PG_PORT PGUSER=$LMS_AGENT_TEST_PG_USER PGPASSWORD=$LMS_AGENT_TEST_PG_PASSWORD
export DB_PASSWORD=$PGPASSWORD XDG_STATE_HOME="$PWD/demo-pg/state"
psql="psql -X -q -v ON_ERROR_STOP=1"
step() { printf '\n$ %s\n' "$*"; }

$psql -d postgres -c "CREATE DATABASE lms_demo"
# The ODS tables of the tests' fixture (the same file the tests load).
$psql -d lms_demo -f Tests/Fixtures/minimal-ods-postgresql.sql
# The LMSX descriptors of Canvas, as the extension ships them.
$psql -d lms_demo <<'SQL'
WITH d AS (
  INSERT INTO edfi.descriptor (namespace, codevalue, shortdescription)
  VALUES ('uri://ed-fi.org/edfilms/LMSSourceSystem', 'Canvas', 'Canvas'),
         ('uri://ed-fi.org/edfilms/AssignmentCategoryDescriptor/Canvas', 'Assignment', 'Assignment'),
         ('uri://ed-fi.org/edfilms/SubmissionStatusDescriptor/Canvas', 'late', 'late'),
         ('uri://ed-fi.org/edfilms/SubmissionStatusDescriptor/Canvas', 'missing', 'missing'),
         ('uri://ed-fi.org/edfilms/SubmissionStatusDescriptor/Canvas', 'graded', 'graded'),
         ('uri://ed-fi.org/edfilms/SubmissionStatusDescriptor/Canvas', 'on-time', 'on-time'),
         ('uri://ed-fi.org/edfilms/SubmissionStatusDescriptor/Canvas', 'Upcoming', 'Upcoming')
  RETURNING descriptorid, namespace),
s AS (INSERT INTO lmsx.lmssourcesystemdescriptor SELECT descriptorid FROM d WHERE namespace LIKE '%LMSSourceSystem'),
c AS (INSERT INTO lmsx.assignmentcategorydescriptor SELECT descriptorid FROM d WHERE namespace LIKE '%AssignmentCategoryDescriptor/%')
INSERT INTO lmsx.submissionstatusdescriptor SELECT descriptorid FROM d WHERE namespace LIKE '%SubmissionStatusDescriptor/%';
SQL
connection=(--engine postgresql --server "$PGHOST" --port "$PGPORT" --username "$PGUSER" --dbname lms_demo)

step lms-agent generate-sample demo-pg/extract --users 200 --sections 12 --assignments-per-section 5
$bin generate-sample demo-pg/extract --users 200 --sections 12 --assignments-per-section 5
step lms-agent flush --csvpath demo-pg/extract "${connection[@]}" --exceptions-report-directory demo-pg/exceptions
$bin flush --csvpath demo-pg/extract "${connection[@]}" --exceptions-report-directory demo-pg/exceptions

# The SIS sync fills the ODS: every student but the last ten, every section but one, their enrollments.
step "psql: the ODS gains students, sections and enrollments (as a SIS sync would)"
$psql -d lms_demo <<'SQL'
INSERT INTO edfi.student (studentuniqueid, firstname, lastsurname, birthdate)
SELECT sisuseridentifier, 'First', 'Last', DATE '2011-04-01' FROM lms.lmsuser
WHERE userrole = 'student' ORDER BY sisuseridentifier OFFSET 10;
INSERT INTO edfi.section (localcoursecode, schoolid, schoolyear, sectionidentifier, sessionname)
SELECT 'ALG-1', 255901001, 2027, sissectionidentifier, 'Fall' FROM lms.lmssection ORDER BY sissectionidentifier OFFSET 1;
INSERT INTO edfi.studentsectionassociation (begindate, localcoursecode, schoolid, schoolyear, sectionidentifier, sessionname, studentusi)
SELECT DISTINCT DATE '2026-08-20', e.localcoursecode, e.schoolid, e.schoolyear, e.sectionidentifier, e.sessionname, st.studentusi
FROM lms.lmsuserlmssectionassociation a
JOIN lms.lmsuser u ON u.lmsuseridentifier = a.lmsuseridentifier
JOIN lms.lmssection l ON l.lmssectionidentifier = a.lmssectionidentifier
JOIN edfi.section e ON e.sectionidentifier = l.sissectionidentifier
JOIN edfi.student st ON st.studentuniqueid = u.sisuseridentifier;
SQL
step lms-agent harmonize --csvpath demo-pg/extract "${connection[@]}" --exceptions-report-directory demo-pg/exceptions
$bin harmonize --csvpath demo-pg/extract "${connection[@]}" --exceptions-report-directory demo-pg/exceptions

step "psql: what is linked"
$psql -d lms_demo -c "SELECT (SELECT count(*) FROM lms.lmsuser WHERE edfistudentid IS NOT NULL) AS linked_users,
  (SELECT count(*) FROM lms.lmssection WHERE edfisectionid IS NOT NULL) AS linked_sections,
  (SELECT count(*) FROM lmsx.assignment) AS lmsx_assignments, (SELECT count(*) FROM lmsx.assignmentsubmission) AS lmsx_submissions"
step "the exceptions reports"
for f in demo-pg/exceptions/*/*.csv; do echo "$f: $(($(wc -l < "$f") - 1)) row(s)"; done
last=$(ls demo-pg/exceptions/sections/*.csv | tail -n 1)
echo "--- $last"; cat "$last"
step lms-agent status --csvpath demo-pg/extract "${connection[@]}"
$bin status --csvpath demo-pg/extract "${connection[@]}"
