#include <sqlite3.h>
// SQLITE_TRANSIENT is a macro Swift cannot import.
static inline sqlite3_destructor_type csqlite_transient(void) { return SQLITE_TRANSIENT; }
// sqlite3_config is variadic, which Swift cannot call. Memory statistics make every allocation
// take one process-wide mutex; two connections working at once (an overlapped flush) then queue
// on it. Must run before the first connection opens.
static inline int csqlite_disable_memstatus(void) { return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); }
