// OpenSSL's libcrypto (the design's libssl family): SHA-256 for API-key and spec digests,
// constant-time comparison.
#include <openssl/sha.h>
#include <openssl/crypto.h>
