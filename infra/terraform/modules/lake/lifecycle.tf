# Retention. The platform deletes by landing date itself (src/unmogrowp/privacy/retention.py: bronze
# and quarantine lines after UNMOGROWP_RETENTION_RAW_DAYS = 30, silver rows after
# UNMOGROWP_RETENTION_SILVER_DAYS = 395, vacuuming the files); S3 makes that real: the landing
# objects themselves expire after landing_expire_days, and on every bucket noncurrent versions (what
# a delete or a Delta vacuum leaves behind in a versioned bucket) are gone after noncurrent_version_days.

# landing: objects expire after landing_expire_days (optionally via STANDARD_IA). lake, artifacts:
# current objects stay (the platform deletes and vacuums them itself), only what deletes leave
# behind expires: noncurrent versions, and delete markers left without versions.
resource "aws_s3_bucket_lifecycle_configuration" "data" {
  for_each = local.data_buckets

  bucket = aws_s3_bucket.data[each.key].id

  rule {
    id     = each.key == "landing" ? "expire-raw-landing" : "expire-deleted-versions"
    status = "Enabled"

    filter {}

    dynamic "transition" {
      for_each = each.key == "landing" && var.landing_ia_days != null ? [var.landing_ia_days] : []

      content {
        days          = transition.value
        storage_class = "STANDARD_IA"
      }
    }

    # landing, in a versioned bucket: the object becomes noncurrent under a delete marker; the version
    # goes noncurrent_version_days later and S3 then removes the delete marker left alone
    expiration {
      days                         = each.key == "landing" ? var.landing_expire_days : null
      expired_object_delete_marker = each.key == "landing" ? null : true
    }

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_multipart_days
    }
  }

  lifecycle {
    precondition {
      condition     = var.landing_ia_days == null ? true : var.landing_ia_days < var.landing_expire_days
      error_message = "landing_ia_days must be smaller than landing_expire_days (objects cannot move to STANDARD_IA after they expired)."
    }
  }

  depends_on = [aws_s3_bucket_versioning.data]
}

resource "aws_s3_bucket_lifecycle_configuration" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  rule {
    id     = "expire-access-logs"
    status = "Enabled"

    filter {}

    expiration {
      days = var.access_log_days
    }

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_multipart_days
    }
  }

  depends_on = [aws_s3_bucket_versioning.access_logs]
}
