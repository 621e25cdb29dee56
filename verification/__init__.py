"""Verification of worker photos: a library (it imports nothing from bounties, forecasting or
market). The bounties app calls, from its Celery task:

- `verification.pipeline.run_fast_checks(...)` / `run_all_checks(...)`: check results + facts;
- `verification.policy.decide(results, reputation=..., history_count=...)`: the verdict;
- `verification.policy.reputation(verdicts, now)`: a worker's recency-weighted acceptance rate;
- `verification.model.get_scorer(settings.VISION_MODEL_DIR)`: the process-wide batched CLIP;
- `verification.fingerprints.DatabaseDuplicateIndex()`: the duplicate index on PostgreSQL;
- `verification.image.delivery_jpeg(...)`: the clean copy delivered to the agent.
"""
