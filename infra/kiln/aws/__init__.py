"""Every boto3 call kiln makes lives in this package."""
