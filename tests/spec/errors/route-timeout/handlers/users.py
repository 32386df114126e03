def get_me(event, context):
    return {}


def list_users(event, context):
    return {}
