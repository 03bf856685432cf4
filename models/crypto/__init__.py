"""Homomorphic encryption for fedcredit: vectorised Paillier over gmpy2 and a TenSEAL CKKS wrapper."""
