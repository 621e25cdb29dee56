"""Verification of worker photos: a library (it imports nothing from bounties, forecasting or
market). The bounties app calls, from its Celery task:

- `verification.pipeline.run_fast_checks(...)` / `run_all_checks(...)`: check results + facts;
- `verification.policy.decide(results, reputation=..., history_count=...)`: the verdict;
- `verification.policy.reputation(verdicts, now)`: a worker's recency-weighted acceptance rate;
- `verification.model.get_scorer(settings.VISION_MODEL_DIR)`: the process-wide batched CLIP;
- `verification.safety_model.get_classifier()`: the process-wide Open-NSFW session;
- `verification.fingerprints.DatabaseDuplicateIndex()`: the duplicate index on PostgreSQL;
- `verification.delivery_copy.delivery_jpeg(...)`: the clean copy delivered to the agent.

`model`, `serving`, `safety_model` and `delivery_copy` load torch, transformers, ONNX Runtime or
OpenCV: only the processes that run them (the verify worker, the vision server) import them.
Everything else here is light enough for a web process.
"""
