variable "description" {
  description = "Description of the key: what it encrypts."
  type        = string
}

variable "alias" {
  description = "Alias name without the alias/ prefix (e.g. eks/wms-prod); null: no alias."
  type        = string
  default     = null
}

variable "logs" {
  description = "The CloudWatch Logs group(s) the key is for: the key policy statement's sid, the log group name (or pattern) and how the encryption context is matched (ArnEquals for one group, ArnLike for a pattern)."
  type = object({
    statement_sid = string
    log_group     = string
    arn_test      = optional(string, "ArnEquals")
  })

  validation {
    condition     = contains(["ArnEquals", "ArnLike"], var.logs.arn_test)
    error_message = "logs.arn_test must be ArnEquals (one log group) or ArnLike (a pattern)."
  }
}

variable "tags" {
  description = "Tags of the key."
  type        = map(string)
  default     = {}
}
