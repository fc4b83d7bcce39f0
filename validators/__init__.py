"""The validator: challenges, querying miners, scoring, persistent score state, weight setting and the
``subnet-validator`` command."""
