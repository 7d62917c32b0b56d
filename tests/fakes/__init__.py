"""Stand-ins and helpers of the tests: the workflow stack deployed from the template, fake AWS
homes, the job scripts imported from their files."""
