
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('patrol', '0001_initial'),
    ]

    operations = [
        migrations.CreateModel(
            name='CoverageDay',
            fields=[
                ('day', models.DateField(primary_key=True, serialize=False, verbose_name='日期')),
                ('computed_at', models.DateTimeField(verbose_name='计算时间')),
            ],
            options={
                'verbose_name': '覆盖计算记录',
                'verbose_name_plural': '覆盖计算记录',
            },
        ),
    ]
