"""The wellbeing domain: pure deciders, no framework, database, Kafka or clock.

* `supervision`: a practitioner's supervision record (supervisions, and the workload agreed
  in them: work suspended, not to be done, resumed);
* `declaration`: an unsafe-workload declaration, answered, escalated, met about, closed;
* `assessment`: stress risk assessments and their reviews;
* `consent`: which union representatives may read a member's declarations;
* `policy`: the thresholds, proposed, approved by both sides, adopted; version 1 the defaults.
"""
