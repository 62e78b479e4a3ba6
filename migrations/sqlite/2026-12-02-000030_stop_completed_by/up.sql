-- Who completed a run's stop (the run's driver, or a dispatcher of its company): a collect
-- scan naming the run is refused from anyone else, and the stop says who it was.
ALTER TABLE run_stops ADD COLUMN completed_by TEXT;
