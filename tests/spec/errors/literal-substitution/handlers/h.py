def f(event, context):
    return {}
