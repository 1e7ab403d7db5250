#include "CRabbitMQShims.h"

#include <stddef.h>

static amqp_table_entry_t bool_entry(const char *key, int value) {
    amqp_table_entry_t e;
    e.key = amqp_cstring_bytes(key);
    e.value.kind = AMQP_FIELD_KIND_BOOLEAN;
    e.value.value.boolean = value;
    return e;
}

static amqp_table_entry_t string_entry(const char *key, const char *value) {
    amqp_table_entry_t e;
    e.key = amqp_cstring_bytes(key);
    e.value.kind = AMQP_FIELD_KIND_UTF8;
    e.value.value.bytes = amqp_cstring_bytes(value);
    return e;
}

amqp_rpc_reply_t CRabbitMQShims_login(amqp_connection_state_t state,
                                      const char *vhost,
                                      int channel_max,
                                      int frame_max,
                                      int heartbeat_seconds,
                                      const char *product,
                                      const char *version,
                                      const char *connection_name,
                                      CRabbitMQShims_sasl mechanism,
                                      const char *user,
                                      const char *password) {
    amqp_table_entry_t capabilities[6];
    capabilities[0] = bool_entry("consumer_cancel_notify", 1);
    capabilities[1] = bool_entry("connection.blocked", 1);
    capabilities[2] = bool_entry("basic.nack", 1);
    capabilities[3] = bool_entry("publisher_confirms", 1);
    capabilities[4] = bool_entry("exchange_exchange_bindings", 1);
    capabilities[5] = bool_entry("authentication_failure_close", 1);

    amqp_table_entry_t properties[5];
    properties[0] = string_entry("product", product);
    properties[1] = string_entry("version", version);
    properties[2] = string_entry("platform", "Swift/Linux (rabbitmq-c 0.11)");
    properties[3] = string_entry("connection_name", connection_name);
    properties[4].key = amqp_cstring_bytes("capabilities");
    properties[4].value.kind = AMQP_FIELD_KIND_TABLE;
    properties[4].value.value.table.num_entries = 6;
    properties[4].value.value.table.entries = capabilities;

    amqp_table_t table;
    table.num_entries = 5;
    table.entries = properties;

    if (mechanism == CRabbitMQShims_SASL_EXTERNAL) {
        return amqp_login_with_properties(state, vhost, channel_max, frame_max,
                                          heartbeat_seconds, &table,
                                          AMQP_SASL_METHOD_EXTERNAL, user);
    }
    return amqp_login_with_properties(state, vhost, channel_max, frame_max,
                                      heartbeat_seconds, &table,
                                      AMQP_SASL_METHOD_PLAIN, user, password);
}

amqp_bytes_t CRabbitMQShims_empty_bytes(void) { return amqp_empty_bytes; }

uint32_t CRabbitMQShims_basic_flag_content_type(void) { return AMQP_BASIC_CONTENT_TYPE_FLAG; }
uint32_t CRabbitMQShims_basic_flag_content_encoding(void) { return AMQP_BASIC_CONTENT_ENCODING_FLAG; }
uint32_t CRabbitMQShims_basic_flag_headers(void) { return AMQP_BASIC_HEADERS_FLAG; }
uint32_t CRabbitMQShims_basic_flag_delivery_mode(void) { return AMQP_BASIC_DELIVERY_MODE_FLAG; }
uint32_t CRabbitMQShims_basic_flag_priority(void) { return AMQP_BASIC_PRIORITY_FLAG; }
uint32_t CRabbitMQShims_basic_flag_correlation_id(void) { return AMQP_BASIC_CORRELATION_ID_FLAG; }
uint32_t CRabbitMQShims_basic_flag_reply_to(void) { return AMQP_BASIC_REPLY_TO_FLAG; }
uint32_t CRabbitMQShims_basic_flag_expiration(void) { return AMQP_BASIC_EXPIRATION_FLAG; }
uint32_t CRabbitMQShims_basic_flag_message_id(void) { return AMQP_BASIC_MESSAGE_ID_FLAG; }
uint32_t CRabbitMQShims_basic_flag_timestamp(void) { return AMQP_BASIC_TIMESTAMP_FLAG; }
uint32_t CRabbitMQShims_basic_flag_type(void) { return AMQP_BASIC_TYPE_FLAG; }
uint32_t CRabbitMQShims_basic_flag_user_id(void) { return AMQP_BASIC_USER_ID_FLAG; }
uint32_t CRabbitMQShims_basic_flag_app_id(void) { return AMQP_BASIC_APP_ID_FLAG; }
