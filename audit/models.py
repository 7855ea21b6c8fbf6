"""The audit trail (MLPS level 3, 等保三级): who did what, when, from where, and how it
ended. Rows are only ever added: a database trigger refuses UPDATE and DELETE of rows
younger than 183 days, and the application's database role holds only SELECT and INSERT
on the table (audit/roles.py); `manage.py purge_audit`, run as the owner role, removes
rows older than AUDIT_RETENTION_DAYS.

Case actions are not copied here: a case's history (incidents.CaseEvent, append-only and
protected the same way) is their record of what changed; the request that made the
change is recorded here as `request.write`, with where it came from and its outcome —
also when it was refused (docs/architecture.md, "Audit trail").
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Action(models.TextChoices):
    LOGIN = "auth.login", _("登录")
    LOGIN_FAILED = "auth.login_failed", _("登录失败")
    LOGOUT = "auth.logout", _("退出登录")
    PERSONAL_READ = "personal.read", _("查看未脱敏个人信息")
    EXPORT = "export", _("导出")
    ADMIN_ADD = "admin.add", _("后台新增")
    ADMIN_CHANGE = "admin.change", _("后台修改")
    ADMIN_DELETE = "admin.delete", _("后台删除")
    REQUEST_WRITE = "request.write", _("接口写操作")


class Outcome(models.TextChoices):
    SUCCESS = "success", _("成功")
    DENIED = "denied", _("拒绝")
    FAILED = "failed", _("失败")
    ERROR = "error", _("服务器错误")


class AuditEvent(models.Model):
    at = models.DateTimeField(_("时间"), default=timezone.now, db_index=True)
    # No foreign key: deleting a user must neither delete nor block their trail; the
    # username is kept as it was at the time.
    user_id = models.IntegerField(_("用户编号"), null=True, blank=True)
    username = models.CharField(_("用户名"), max_length=150, blank=True)
    ip = models.GenericIPAddressField(_("来源地址"), null=True, blank=True)
    user_agent = models.CharField(_("客户端"), max_length=300, blank=True)
    action = models.CharField(_("操作"), max_length=30, choices=Action.choices)
    object_type = models.CharField(_("对象类型"), max_length=60, blank=True)
    object_id = models.CharField(_("对象编号"), max_length=64, blank=True)
    outcome = models.CharField(_("结果"), max_length=10, choices=Outcome.choices)
    detail = models.JSONField(_("详情"), default=dict, blank=True)

    class Meta:
        verbose_name = _("审计记录")
        verbose_name_plural = _("审计记录")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["user_id", "at"], name="audit_user_at")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.username or '-'} {self.action}"
