def get_me(event, context):
    return {}
