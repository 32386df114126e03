"""Fixture handlers for the golden case: only their names matter to the compiler."""


def create(event, context):
    return {"statusCode": 201}


def get(event, context):
    return {"statusCode": 200}


def process(event, context):
    return {"batchItemFailures": []}


def on_event(event, context):
    return None


def health(event, context):
    return {"statusCode": 200}
