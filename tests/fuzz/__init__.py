"""Bad input gets a clear error, never a crash (issue 8, "Prove it holds", the bad-input part).

Property-based tests (hypothesis) of the CloudEvents parser in every way in (structured, batch,
binary, stream entry) and of every request model (test_parser.py, test_models.py); the same
inputs through the API (no 5xx, a reason in every 4xx, valid events next to invalid ones
accepted: test_api.py); the stream consumer fed 10,000 random entries among 500 valid marks
(test_stream.py); and a regression test for each bug the fuzzers found (test_regressions.py).
The strategies and settings they share are in strategies.py, the checks in checks.py. The
fuzzer over the live OpenAPI schema is tests/test_schemathesis.py.
"""
