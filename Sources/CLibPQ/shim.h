// Debian's libpq-dev puts the header here; no pkg-config needed.
#include <postgresql/libpq-fe.h>
