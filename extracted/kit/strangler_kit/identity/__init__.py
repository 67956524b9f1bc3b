"""Who is calling a service: the identity the proxy signed after asking the monolith (docs/identity.md).

`verify_identity` is the one place a service checks a header; `SignedIdentityAuthentication` (DRF) and the
`CredentialsFirst` middleware go through it, so a new version of the contract changes one function.
"""
