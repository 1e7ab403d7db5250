#ifndef DDROUTER_CRABBITMQSHIMS_H
#define DDROUTER_CRABBITMQSHIMS_H

#include <amqp.h>

/// SASL mechanisms the shim can log in with.
typedef enum {
    CRabbitMQShims_SASL_PLAIN = 0,
    CRabbitMQShims_SASL_EXTERNAL = 1,
} CRabbitMQShims_sasl;

/// Wraps the variadic amqp_login_with_properties (Swift cannot call variadic C).
///
/// The client-properties table always carries `product`, `version`, `platform`,
/// `connection_name` and a `capabilities` table advertising consumer_cancel_notify,
/// connection.blocked, basic.nack, publisher_confirms, exchange_exchange_bindings and
/// authentication_failure_close: rabbitmq-c 0.11 advertises none of them by itself, and
/// without them the broker sends no basic.cancel, no connection.blocked and no nacks.
///
/// For PLAIN, `user` and `password` are used; for EXTERNAL, `user` is the identity
/// (may be the empty string to let the broker take it from the certificate).
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
                                      const char *password);

/// amqp_cstring_bytes is a function in 0.11, but an empty-bytes constant is a macro.
amqp_bytes_t CRabbitMQShims_empty_bytes(void);

/// AMQP_BASIC_* property flag values are macros that Swift imports inconsistently.
uint32_t CRabbitMQShims_basic_flag_content_type(void);
uint32_t CRabbitMQShims_basic_flag_content_encoding(void);
uint32_t CRabbitMQShims_basic_flag_headers(void);
uint32_t CRabbitMQShims_basic_flag_delivery_mode(void);
uint32_t CRabbitMQShims_basic_flag_priority(void);
uint32_t CRabbitMQShims_basic_flag_correlation_id(void);
uint32_t CRabbitMQShims_basic_flag_reply_to(void);
uint32_t CRabbitMQShims_basic_flag_expiration(void);
uint32_t CRabbitMQShims_basic_flag_message_id(void);
uint32_t CRabbitMQShims_basic_flag_timestamp(void);
uint32_t CRabbitMQShims_basic_flag_type(void);
uint32_t CRabbitMQShims_basic_flag_user_id(void);
uint32_t CRabbitMQShims_basic_flag_app_id(void);

#endif
