"""Does a user's stored password hash match the password in the environment?

The management API never returns a password, only RabbitMQ's salted hash; comparing against it
lets `check` notice a changed password without `apply` rewriting every user on every run.
"""

from __future__ import annotations

import base64
import hashlib


def password_matches(password_hash: str, password: str, algorithm: str) -> bool:
    """RabbitMQ's hash is base64(salt[4] + H(salt + password)); compare without changing it."""
    hashers = {
        "rabbit_password_hashing_sha256": hashlib.sha256,
        "rabbit_password_hashing_sha512": hashlib.sha512,
        "rabbit_password_hashing_md5": hashlib.md5,
    }
    hasher = hashers.get(algorithm)
    if hasher is None or not password_hash:
        return False
    raw = base64.b64decode(password_hash)
    salt, digest = raw[:4], raw[4:]
    return hasher(salt + password.encode()).digest() == digest
