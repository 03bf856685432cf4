"""Homomorphic encryption for fedcredit: vectorised Paillier (gmpy2) and a TenSEAL CKKS wrapper."""
