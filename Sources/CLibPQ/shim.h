// libpq (Debian's libpq-dev), the PostgreSQL client library of the PostgreSQL job store.
#include <libpq-fe.h>
